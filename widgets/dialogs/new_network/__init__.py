"""The New Network wizard and the DHCP editor of a network."""
