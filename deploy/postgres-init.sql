-- Rasa's SQL tracker store keeps its own database beside FerretDB's.
CREATE DATABASE rasa OWNER contact_center;
-- Campaigns, contact attempts and their procrastinate job queue (outbound/), on the same server.
CREATE DATABASE outbound OWNER contact_center;
