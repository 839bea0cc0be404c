using System.ComponentModel.DataAnnotations;

namespace Artemis.Agents.Api;

/// <summary>The key that protects <c>/api/*</c>; the AppHost generates it (parameter <c>agents-api-key</c>).</summary>
public sealed class ApiOptions
{
    public const string SectionName = "Artemis:Api";

    /// <summary>Short keys can be guessed; the generated one has 32 characters.</summary>
    public const int MinimumKeyLength = 16;

    [Required(ErrorMessage = "Artemis:Api:Key is required: the key that clients send in the X-Api-Key header.")]
    [MinLength(MinimumKeyLength, ErrorMessage = "Artemis:Api:Key must have at least 16 characters.")]
    public string Key { get; set; } = "";
}
