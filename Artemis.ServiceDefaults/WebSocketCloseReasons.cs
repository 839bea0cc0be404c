using System.Text;

namespace Artemis.ServiceDefaults;

/// <summary>WebSocket close reasons, shared by the voice bridge and the web's proxy in front of it.</summary>
public static class WebSocketCloseReasons
{
    /// <summary>A close frame's reason holds at most 123 bytes of UTF-8: longer ones are cut with an ellipsis.</summary>
    public static string Truncate(string reason)
    {
        ArgumentNullException.ThrowIfNull(reason);
        if (Encoding.UTF8.GetByteCount(reason) <= 123)
        {
            return reason;
        }

        var cut = reason.Length;
        while (Encoding.UTF8.GetByteCount(reason.AsSpan(0, cut)) > 120)
        {
            cut--;
        }

        return string.Concat(reason.AsSpan(0, cut), "…");
    }
}
