"""Planning imports: locations, packages, schedule and item types from CSV/XLSX, all or nothing, every bad row named."""
