-- Sales and commodities that the operator makes are keyed by their FlashSale resource: "namespace/name/uid"
-- (at most 63 + 200 + 36 characters and two slashes), so a handler re-run after a crash finds what it made.
-- ASCII with a binary collation: Kubernetes names and uids are ASCII, and a key must match exactly.

ALTER TABLE sales MODIFY external_key VARCHAR(320) CHARACTER SET ascii COLLATE ascii_bin NULL;

ALTER TABLE commodities
  ADD COLUMN external_key VARCHAR(320) CHARACTER SET ascii COLLATE ascii_bin NULL,
  ADD UNIQUE KEY uq_commodities_external_key (external_key);
