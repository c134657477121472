from handlers.messages import Button, Capabilities, Reply
from handlers.render import Wording, choose_option, render, split_text


def test_split_on_line_boundaries() -> None:
    text = "\n".join(f"line {n:04d} " + "x" * 40 for n in range(60))  # 60 lines of 50 characters
    parts = split_text(text, 2000)
    assert len(parts) == 2
    assert all(len(part) <= 2000 for part in parts)
    assert "\n".join(parts) == text


def test_an_overlong_line_is_cut() -> None:
    parts = split_text("y" * 4500, 2000)
    assert [len(p) for p in parts] == [2000, 2000, 500]


def test_buttons_become_numbered_options_where_there_are_none() -> None:
    reply = Reply("Pick one", buttons=((Button("Apples", "a:1"), Button("Pears", "a:2")), (Button("Plums", "a:3"),)))
    [rendered] = render(reply, Capabilities(buttons=False), Wording("Reply with a number."))
    assert rendered.text == "Pick one\n\n1. Apples\n2. Pears\n3. Plums\nReply with a number."
    assert [b.action for b in rendered.options] == ["a:1", "a:2", "a:3"]
    assert [b.key for b in rendered.options] == ["1", "2", "3"]
    assert rendered.buttons == ()
    [with_buttons] = render(reply, Capabilities(), Wording())
    assert with_buttons.buttons == reply.buttons and with_buttons.options == ()


def test_a_list_in_the_text_is_not_listed_again_and_keeps_its_numbers() -> None:
    """Results 6–7 of a search: their numbers come from the text; the page buttons are numbered after them."""
    results = ((Button("6. Tea", "p:6", key="6"),), (Button("7. Honey", "p:7", key="7"),))
    reply = Reply("6. Tea — ★★★\n7. Honey — ★★★★", buttons=(*results, (Button("« Back", "s:0"),)), listed=2)
    [rendered] = render(reply, Capabilities(buttons=False), Wording("Reply with a number."))
    assert rendered.text == "6. Tea — ★★★\n7. Honey — ★★★★\n\n8. « Back\nReply with a number."
    assert [(b.key, b.action) for b in rendered.options] == [("6", "p:6"), ("7", "p:7"), ("8", "s:0")]
    [telegram] = render(reply, Capabilities(), Wording())
    assert telegram.buttons == reply.buttons and [b.key for b in telegram.options] == ["6", "7"]  # typed numbers work


def test_a_word_to_type_instead_of_a_number() -> None:
    reply = Reply("Volume?", buttons=((Button("Skip", "f:c:v:skip", key="Skip"),),))
    [rendered] = render(reply, Capabilities(buttons=False), Wording("Reply with a number.", "Or type {words}."))
    assert rendered.text == "Volume?\n\nOr type «Skip»."  # no number, so no hint about numbers
    assert choose_option("skip", [[b.label, b.action, b.key] for b in rendered.options]) == "f:c:v:skip"


def test_too_many_buttons_fall_back_too() -> None:
    reply = Reply("Pick", buttons=tuple((Button(str(n), f"a:{n}"),) for n in range(7)))
    [rendered] = render(reply, Capabilities(max_buttons=5), Wording())
    assert len(rendered.options) == 7


def test_long_reply_keeps_buttons_on_the_last_part() -> None:
    reply = Reply("z" * 2500, buttons=((Button("Ok", "ok"),),), photo="http://x/p.jpg")
    first, second = render(reply, Capabilities(buttons=False, max_text=2000, photos=False), Wording("#"))
    assert first.options == () and second.options[0].action == "ok"
    assert second.photo == ""


def test_choose_option_by_number_or_label() -> None:
    options = [["Tiếng Việt", "lang:vi"], ["English", "lang:en"]]
    assert choose_option("2", options) == "lang:en"
    assert choose_option("2.", options) == "lang:en"
    assert choose_option("tieng viet", options) == "lang:vi"
    assert choose_option("3", options) is None
    assert choose_option("0", options) is None
    assert choose_option("hello", options) is None


def test_button_data_is_capped_at_64_bytes() -> None:
    import pytest

    with pytest.raises(ValueError):
        Button("x", "p:" + "9" * 63)
