"""Tags match and are unique without regard to case; the first spelling given is kept."""

from todo_api.domain.tags import tag_key, unique_tags


def test_spellings_of_one_tag_share_a_key() -> None:
    assert tag_key("Home") == tag_key("HOME") == tag_key("home")
    assert tag_key("Straße") == tag_key("STRASSE")  # casefold, not lower


def test_unique_tags_keep_the_first_spelling_in_order() -> None:
    assert unique_tags(["Work", "home", "work", "HOME", "errands"]) == ["Work", "home", "errands"]


def test_no_tags_stay_none() -> None:
    assert unique_tags([]) == []
