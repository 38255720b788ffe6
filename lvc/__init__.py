"""lvc: a learned video codec."""
