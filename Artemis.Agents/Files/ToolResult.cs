using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Artemis.Agents.Files;

/// <summary>
/// The stable error codes tools return to the model (files and sandbox). The model acts on the code, people read the
/// message; renaming a code breaks prompts and tests alike.
/// </summary>
public static class ToolErrorCodes
{
    public const string OutsideWorkspace = "outside_workspace";
    public const string NotFound = "not_found";
    public const string TooLarge = "too_large";
    public const string Binary = "binary";
    public const string PermissionDenied = "permission_denied";
    public const string NotAFile = "not_a_file";
    public const string NotADirectory = "not_a_directory";
    public const string InvalidPath = "invalid_path";
    public const string IoError = "io_error";
    public const string Timeout = "timeout";
    public const string LimitExceeded = "limit_exceeded";
    public const string UnsupportedLanguage = "unsupported_language";
    public const string SandboxUnavailable = "sandbox_unavailable";
    public const string NoTestCommand = "no_test_command";
}

/// <summary>
/// Tool results as the model sees them: <c>{"ok":true,…}</c> or <c>{"ok":false,"error":{"code","message"}}</c>.
/// Serialized here, once, so every tool speaks the same JSON.
/// </summary>
public static class ToolResult
{
    /// <summary>Relaxed escaping: file contents reach a model, not an HTML page, and \uXXXX for every accent wastes tokens.</summary>
    public static readonly JsonSerializerOptions Json = new()
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    public static string Error(string code, string message) =>
        JsonSerializer.Serialize(new { ok = false, error = new ToolError(code, message) }, Json);

    public static string Serialize<T>(T value) => JsonSerializer.Serialize(value, Json);
}

public sealed record ToolError(string Code, string Message);

/// <summary>An expected failure on the way to a tool's result; becomes the structured error, never an exception to the model.</summary>
public sealed class ToolFailureException(string code, string message) : Exception(message)
{
    public string Code { get; } = code;

    public string ToJson() => ToolResult.Error(Code, Message);
}
