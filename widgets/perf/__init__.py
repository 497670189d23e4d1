"""The Performance tab's parts: what each graph shows (specs), a graph (chart), its lines'
points from history and live buffers (series), and the hover read-out (readout)."""
