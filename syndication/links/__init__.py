"""Short links ("News Link"), their visits, and QR codes that open them."""
