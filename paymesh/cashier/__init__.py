"""The aggregated cashier (聚合收银台): one link or QR code that any wallet can pay."""
