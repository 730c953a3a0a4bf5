"""Reading an activity page's markup without a browser: authored posts, their text and their links."""

from llm_engineering.infrastructure.crawlers.linkedin.posts import LinkedInPost, extract_posts, fallback_link

PAGE = "https://www.linkedin.com/in/iris-calder/recent-activity/all/"


def update(inner: str, urn: str = "") -> str:
    attribute = f' data-urn="urn:li:activity:{urn}"' if urn else ""
    return f'<div class="feed-shared-update-v2"{attribute}>{inner}</div>'


def test_authored_posts_keep_their_lines_and_links_while_reposts_and_reactions_are_skipped() -> None:
    html = "".join(
        [
            update('<div class="update-components-text">First line<br>second line <button>…see more</button>'
                   '<span class="visually-hidden">hidden</span></div>', urn="71"),
            update('<div class="update-components-header">Iris Calder reposted this</div>'
                   '<div class="update-components-text">Someone else</div>', urn="72"),
            update('<div class="update-components-header">Iris Calder likes this</div>'
                   '<div class="update-components-text">Liked</div>', urn="73"),
            update('<a href="/posts/iris_chunking-activity-74-ab?utm_source=share">3d</a>'
                   '<div class="update-components-text"><p>One.</p><p>Two.</p></div>'),
            update('<div class="update-components-text">No link at all</div>'),
        ]
    )  # fmt: skip

    assert extract_posts(html, PAGE) == [
        LinkedInPost("First line\nsecond line", "https://www.linkedin.com/feed/update/urn:li:activity:71/"),
        LinkedInPost("One.\n\nTwo.", "https://www.linkedin.com/posts/iris_chunking-activity-74-ab"),
        LinkedInPost("No link at all", None),
    ]


def test_a_post_nested_in_another_is_read_once() -> None:
    html = update(update('<div class="update-components-text">Inner</div>', urn="81"), urn="80")
    assert [post.text for post in extract_posts(html, PAGE)] == ["Inner"]


def test_a_post_without_a_permalink_gets_a_stable_link_keyed_by_its_text() -> None:
    link = "https://www.linkedin.com/in/iris-calder/"
    assert fallback_link(link, "Same text") == fallback_link(link + "#old", "Same text")
    assert fallback_link(link, "Same text") != fallback_link(link, "Other text")
    assert fallback_link(link, "Same text").startswith(f"{link}#post-")
