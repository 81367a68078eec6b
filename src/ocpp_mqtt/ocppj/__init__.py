"""OCPP-J protocol rules with no I/O: frames, versions, validation, sessions."""
