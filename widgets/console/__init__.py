"""The console widgets: the view of a framebuffer with input, and the pane around it
(toolbar, state overlay) shared by the Console tab, undocked and standalone windows."""
