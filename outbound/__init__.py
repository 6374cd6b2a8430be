"""Outbound contacts: campaigns and single notices, the rules they obey, their planning and delivery.

The bank starts these contacts, but they end in the same conversations as inbound ones: the
message is a turn of a conversation and the reply takes the ordinary path (handoff/router.py).
Channel formats live in connectors/; this package knows none of them.
"""
