"""The flood engine: packets built once as templates, varied by a field program, sent
in batches from a PACKET_MMAP TX ring; bounded by count and duration, always."""
