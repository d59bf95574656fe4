-- The initial schema: users, catalogue, orders, the stock-return outbox and the fake payment provider's ledger.

CREATE TABLE users (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  username VARCHAR(64) NOT NULL,
  password_hash VARCHAR(255) NOT NULL,
  role VARCHAR(16) NOT NULL DEFAULT 'user',
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  UNIQUE KEY uq_users_username (username)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE commodities (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name VARCHAR(200) NOT NULL,
  description TEXT NULL,
  price_cents BIGINT NOT NULL,
  image_url VARCHAR(2048) NULL,
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE sales (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  commodity_id BIGINT UNSIGNED NOT NULL,
  name VARCHAR(200) NOT NULL,
  price_cents BIGINT NOT NULL,
  stock INT NOT NULL,
  stock_left INT NOT NULL,
  starts_at DATETIME(3) NOT NULL,
  ends_at DATETIME(3) NOT NULL,
  per_user_limit INT NOT NULL,
  payment_timeout_seconds INT NOT NULL,
  paused TINYINT(1) NOT NULL DEFAULT 0,
  cache_epoch BIGINT NOT NULL DEFAULT 0,
  external_key VARCHAR(255) NULL,
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  UNIQUE KEY uq_sales_external_key (external_key),
  CONSTRAINT fk_sales_commodity FOREIGN KEY (commodity_id) REFERENCES commodities (id),
  CONSTRAINT ck_sales_stock_left CHECK (stock_left >= 0 AND stock_left <= stock)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE orders (
  id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
  sale_id BIGINT UNSIGNED NOT NULL,
  user_id VARCHAR(64) NOT NULL,
  quantity INT NOT NULL,
  amount_cents BIGINT NOT NULL,
  status VARCHAR(16) NOT NULL,
  idempotency_key VARCHAR(64) NULL,
  cache_epoch BIGINT NOT NULL DEFAULT 0,
  created_at DATETIME(3) NOT NULL,
  expires_at DATETIME(3) NOT NULL,
  paid_at DATETIME(3) NULL,
  paying_since DATETIME(3) NULL,
  cancelled_at DATETIME(3) NULL,
  cancel_reason VARCHAR(16) NULL,
  written_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  UNIQUE KEY uq_orders_idempotency (sale_id, user_id, idempotency_key),
  KEY ix_orders_user (user_id, id),
  KEY ix_orders_sale_status (sale_id, status),
  KEY ix_orders_status_expires (status, expires_at),
  KEY ix_orders_status_paying (status, paying_since)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- What a user holds in a sale, for the `db` strategy's per-user limit (a row locked in the purchase).
CREATE TABLE sale_holdings (
  sale_id BIGINT UNSIGNED NOT NULL,
  user_id VARCHAR(64) NOT NULL,
  quantity INT NOT NULL,
  PRIMARY KEY (sale_id, user_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Units to return to the cache, written in the transaction that cancels the order, applied idempotently.
CREATE TABLE stock_returns (
  order_id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
  sale_id BIGINT UNSIGNED NOT NULL,
  user_id VARCHAR(64) NOT NULL,
  quantity INT NOT NULL,
  cache_epoch BIGINT NOT NULL,
  applied_at DATETIME(3) NULL,
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  KEY ix_stock_returns_pending (applied_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- The in-process fake payment provider's ledger: one charge per idempotency key (the order id).
CREATE TABLE fake_charges (
  idempotency_key VARCHAR(64) NOT NULL PRIMARY KEY,
  amount_cents BIGINT NOT NULL,
  status VARCHAR(16) NOT NULL,
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
