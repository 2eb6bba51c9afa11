"""The shared vocabulary of the product: errors, secrets, events, the wire codec and the adapter interface.

Nothing here imports any other package of the project.
"""
