"""Security: users and roles, pseudonymisation, the audit log and alert lifecycle storage."""
