"""The staff card desk: find a patron, read their record, and act on their cards at once.

search     what the clerk typed (user number, name in kanji or kana, email), understood,
           and the patrons it matches
record     a patron's cards, card events and applications; a card locked for a change
actions    suspend, reinstate, revoke, and reissue with a new number at the desk, each
           audited; the CLI (``cardservice card``) calls the same functions
texts      the desk's words, marked for the page catalogs (``desk.po``)
routes     the desk pages (``/staff/patrons``); the only part that imports Litestar
"""
