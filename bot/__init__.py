"""Rasa-side code of the bank assistant (the gateway input channel)."""
