"""The rooms of a standalone page (:func:`attnwidget.figures.to_html`), one job each.

=========================  ==================================================
``store``                  bytes packed and stored once, states stored once
``table``                  one view: every selection -> the state it shows
``panels``                 an explorer: its views, head statistics, class chart
``script``                 the view modules and the runtime, inlined once each
=========================  ==================================================

The runtime that reads all this in the browser is ``js/page.js`` (bundled
into ``attnwidget/static/page.js``).
"""
