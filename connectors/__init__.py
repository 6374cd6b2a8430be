"""Channel adapters: each turns its channel's payloads into router messages and back."""
