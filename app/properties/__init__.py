"""VM Properties: what the dialog shows, the user's edits as a change list, and applying
it to the host (the definition, and the running VM where libvirt can).

``data.load()`` reads what the pages show; an ``EditSession`` holds the definition as it
was and as edited (both domxml views); ``changes.plan()`` turns the difference into
``Change`` items, each saying when it takes effect; ``apply.apply()`` carries them out
and says, per change, what happened.
"""
