"""SIP2 (3M Standard Interchange Protocol 2.00) for self-check kiosks and gates.

``codec`` reads and writes messages (fields, checksums, sequence numbers), ``kiosks`` holds
the kiosks' login accounts, ``answers`` turns a card verdict into SIP2's patron status and
screen message, and ``server`` is the asyncio TCP (optionally TLS) server that
``cardservice sip2 serve`` runs.
"""
