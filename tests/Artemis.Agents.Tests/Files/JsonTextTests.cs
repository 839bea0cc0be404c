using System.Text;
using System.Text.Json;
using Artemis.Agents.Files;

namespace Artemis.Agents.Tests.Files;

public sealed class JsonTextTests
{
    private static string RoundTrip(string text)
    {
        var json = JsonText.Quote("{\"a\":1,\"content\":", Encoding.UTF8.GetBytes(text), "}");
        using var document = JsonDocument.Parse(json);
        Assert.Equal(1, document.RootElement.GetProperty("a").GetInt32());
        return document.RootElement.GetProperty("content").GetString()!;
    }

    [Fact]
    public void Every_ASCII_character_survives_the_round_trip()
    {
        var text = new string([.. Enumerable.Range(0, 128).Select(c => (char)c)]);
        Assert.Equal(text, RoundTrip(text));
    }

    [Theory]
    [InlineData("")]
    [InlineData("\"")]
    [InlineData("\\")]
    [InlineData("ends with a backslash \\")]
    [InlineData("\"quoted\" and \\\"escaped\\\"")]
    [InlineData("line\r\nbreaks\n\n\ttabs\u0001\u001f\u007f")]
    [InlineData("accents: é à ü, CJK: 漢字, emoji: 🚀👩‍💻, line separator: \u2028, BOM: \ufeff")]
    [InlineData("</script><!-- & ' ` -->")]
    public void Text_survives_the_round_trip(string text) => Assert.Equal(text, RoundTrip(text));

    [Fact]
    public void Only_what_JSON_requires_is_escaped()
    {
        Assert.Equal("[\"a\\\"b\\\\c\\nd\\u0000é<>&'\"]", JsonText.Quote("[", Encoding.UTF8.GetBytes("a\"b\\c\nd\0é<>&'"), "]"));
    }

    [Fact]
    public void A_megabyte_of_short_lines_is_one_string_equal_to_the_serializers()
    {
        var text = string.Concat(Enumerable.Repeat("    if (a < b && c != \"x\") { return '\\t'; } // naïve\n", 20_000));
        var json = JsonText.Quote("", Encoding.UTF8.GetBytes(text), "");
        Assert.Equal(text, JsonSerializer.Deserialize<string>(json));
        Assert.Equal(JsonSerializer.Serialize(text, ToolResult.Json), json);
    }
}
