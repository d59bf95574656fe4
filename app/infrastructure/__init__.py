"""Adapters to the outside: Redis, RabbitMQ, MariaDB, tokens, passwords, metrics."""
