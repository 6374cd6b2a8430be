"""Conversation state and routing: each customer message goes to the bot or to an operator."""
