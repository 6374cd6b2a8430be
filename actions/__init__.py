"""Custom actions of the bank assistant, run by the rasa_sdk action server (`python -m rasa_sdk --actions actions`).

One module per feature: slot_mappings (metadata -> slots), balance, transactions,
block_card (form validation, questions and submit), handoff. Shared pieces:
texts (every customer-facing sentence, ru/en), formatting (money and dates),
conversation (what actions read from the tracker) and dependencies (how actions
get the banking backend).
"""
