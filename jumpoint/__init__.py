"""The Jumpoint: the agent that runs inside a customer LAN, and the core vocabulary it shares with the console."""
