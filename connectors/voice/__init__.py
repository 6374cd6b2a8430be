"""The phone line: a gateway-neutral voice session with TwiML-webhook and Asterisk FastAGI adapters."""
