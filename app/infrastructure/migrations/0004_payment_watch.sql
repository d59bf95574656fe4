-- Orders the sweep gave back (paying -> created) without seeing a charge: the stalled pay request may still charge
-- after the order is cancelled, and die before its refund. The sweep refunds such a charge once, then forgets the
-- order; it forgets a paid one at once, and a cancelled one never charged once watch_until has passed.

CREATE TABLE payment_watch (
  order_id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
  watch_until DATETIME(3) NOT NULL,
  KEY ix_payment_watch_until (watch_until)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
