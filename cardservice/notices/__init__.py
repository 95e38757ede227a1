"""Messages the card service sends to patrons who opted in: expiry reminders and
emergency-closure notices (PRODUCT.md, "Email")."""
