"""Human handoff: when a person should take over, and who hears that one did."""
