"""The FlashSale operator: runs a sale from its Kubernetes custom resource (kopf handlers over plain modules)."""
