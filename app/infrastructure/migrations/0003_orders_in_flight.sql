-- Orders the relay has handed to the broker and no order writer has written yet, per sale: waiting in the order
-- queue, held by a writer, or dead-lettered. The relay inserts a row before it publishes the order; the writer
-- deletes it in the transaction that writes the order row. The exact, per-sale drain check of a preheat.

CREATE TABLE orders_in_flight (
  order_id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
  sale_id BIGINT UNSIGNED NOT NULL,
  handed_off_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  KEY ix_orders_in_flight_sale (sale_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
