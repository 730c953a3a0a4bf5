"""The warehouse: documents and users (`documents`), opening it (`connection`), export/import (`files`)."""
