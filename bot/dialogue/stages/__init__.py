"""The stages of a turn that give it memory, rules, custom actions and a reply."""
