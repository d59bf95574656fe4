"""flashsale: a flash-sale backend (Redis Lua reservation, RabbitMQ order pipeline, MariaDB truth)."""
