-- Rasa's SQL tracker store keeps its own database beside FerretDB's.
CREATE DATABASE rasa OWNER contact_center;
