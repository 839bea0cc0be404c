using System.Buffers;
using System.Globalization;
using System.Numerics;
using System.Runtime.Intrinsics;
using System.Text;

namespace Artemis.Agents.Files;

/// <summary>
/// UTF-8 text written as a JSON string in one allocation: the escapes JSON requires (<c>"</c>, <c>\</c> and the
/// C0 controls) and nothing else, straight from the file's bytes into the result string.
/// </summary>
/// <remarks>
/// <c>read_file</c> returns up to megabytes as JSON. Through <c>Utf8JsonWriter</c> that is an escaping pass into a
/// UTF-8 buffer as large as the file, then a decode of that buffer into the string; here a vectorized search finds
/// the bytes to escape, the runs between them are decoded straight into the string, and nothing else is allocated
/// (bench/results/sandbox.md). Characters outside ASCII are kept as they are, as with the tools' relaxed encoder.
/// </remarks>
public static class JsonText
{
    private static readonly SearchValues<byte> Escaped = SearchValues.Create([.. Enumerable.Range(0, 0x20).Select(b => (byte)b), (byte)'"', (byte)'\\']);

    /// <summary>
    /// <paramref name="prefix"/> + <paramref name="utf8"/> as a quoted JSON string + <paramref name="suffix"/>.
    /// <paramref name="utf8"/> must be valid UTF-8 (<see cref="System.Text.Unicode.Utf8.IsValid"/>).
    /// </summary>
    public static string Quote(string prefix, ReadOnlyMemory<byte> utf8, string suffix)
    {
        var length = (long)prefix.Length + 2 + Encoding.UTF8.GetCharCount(utf8.Span) + ExtraForEscapes(utf8.Span) + suffix.Length;

        if (length > Array.MaxLength)
        {
            throw new ArgumentOutOfRangeException(nameof(utf8), "the text is too long for one string once escaped");
        }

        return string.Create((int)length, (prefix, utf8, suffix), static (output, state) =>
        {
            state.prefix.CopyTo(output);
            output = output[state.prefix.Length..];
            output[0] = '"';
            output = output[1..];
            var rest = state.utf8.Span;
            while (true)
            {
                var next = rest.IndexOfAny(Escaped);
                var run = next < 0 ? rest : rest[..next];
                output = output[Encoding.UTF8.GetChars(run, output)..];
                if (next < 0)
                {
                    break;
                }

                output = output[WriteEscape(rest[next], output)..];
                rest = rest[(next + 1)..];
            }

            output[0] = '"';
            state.suffix.CopyTo(output[1..]);
        });
    }

    /// <summary>
    /// Characters the escapes add: one per byte written as a two-character escape, five per <c>\u00XX</c>. Counted a
    /// vector at a time, as most text has an escape (a newline) every few dozen bytes.
    /// </summary>
    private static long ExtraForEscapes(ReadOnlySpan<byte> utf8)
    {
        long escaped = 0;
        long unicode = 0;
        var i = 0;
        if (Vector128.IsHardwareAccelerated)
        {
            var space = Vector128.Create((byte)0x20);
            var quote = Vector128.Create((byte)'"');
            var backslash = Vector128.Create((byte)'\\');
            var newline = Vector128.Create((byte)'\n');
            var tab = Vector128.Create((byte)'\t');
            var carriageReturn = Vector128.Create((byte)'\r');
            var backspace = Vector128.Create((byte)'\b');
            var formFeed = Vector128.Create((byte)'\f');
            for (; i <= utf8.Length - Vector128<byte>.Count; i += Vector128<byte>.Count)
            {
                var block = Vector128.Create(utf8.Slice(i, Vector128<byte>.Count));
                var control = Vector128.LessThan(block, space);
                var all = control | Vector128.Equals(block, quote) | Vector128.Equals(block, backslash);
                if (all == Vector128<byte>.Zero)
                {
                    continue;
                }

                var named = Vector128.Equals(block, newline) | Vector128.Equals(block, tab) | Vector128.Equals(block, carriageReturn)
                    | Vector128.Equals(block, backspace) | Vector128.Equals(block, formFeed);
                escaped += BitOperations.PopCount(all.ExtractMostSignificantBits());
                unicode += BitOperations.PopCount(Vector128.AndNot(control, named).ExtractMostSignificantBits());
            }
        }

        foreach (var value in utf8[i..])
        {
            if (value < 0x20 || value is (byte)'"' or (byte)'\\')
            {
                escaped++;
                if (value is not ((byte)'\n' or (byte)'\t' or (byte)'\r' or (byte)'\b' or (byte)'\f') && value < 0x20)
                {
                    unicode++;
                }
            }
        }

        return escaped + (4 * unicode);
    }

    private static int WriteEscape(byte value, Span<char> output)
    {
        output[0] = '\\';
        var letter = value switch
        {
            (byte)'"' => '"',
            (byte)'\\' => '\\',
            (byte)'\n' => 'n',
            (byte)'\r' => 'r',
            (byte)'\t' => 't',
            (byte)'\b' => 'b',
            (byte)'\f' => 'f',
            _ => '\0',
        };
        if (letter != '\0')
        {
            output[1] = letter;
            return 2;
        }

        output[1] = 'u';
        ((int)value).TryFormat(output[2..6], out _, "x4", CultureInfo.InvariantCulture);
        return 6;
    }
}
