"""The Jumpoint: the agent that runs inside a customer LAN, and the core session vocabulary it shares with the console."""
