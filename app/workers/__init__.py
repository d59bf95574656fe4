"""Long-running consumers: the relay, the order writers and the payment-timeout worker."""
