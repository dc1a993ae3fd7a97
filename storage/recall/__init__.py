"""Hybrid recall: lexical full-text and semantic vectors, fused and re-ranked inside the person's scope."""
