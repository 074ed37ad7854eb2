"""Dataset tools: the TFRecord schema, the dataset registry, raw-layout builders and fetchers.

Nothing heavy is imported here so that conversion worker processes start quickly.
"""
