using System.Collections.Frozen;
using System.Globalization;
using System.Text.Json;

namespace Artemis.Agents.Costs;

/// <summary>
/// The price of every model Artemis may call: the built-in list (<c>Costs/prices.json</c>) with
/// <c>Artemis:Pricing:&lt;model&gt;</c> entries added or overriding. Lookups of a model that is not listed fail: a
/// model is never priced $0 by omission. Model names are matched exactly, then by the longest listed prefix that
/// ends at a '-' followed by a digit (so a dated snapshot such as <c>gpt-4o-2024-08-06</c> is priced as
/// <c>gpt-4o</c>); ':' in a name counts as '-'.
/// </summary>
public sealed class PriceCatalog
{
    public const string SectionName = "Artemis:Pricing";

    private readonly FrozenDictionary<string, ModelPrice> _prices;

    public PriceCatalog(IReadOnlyDictionary<string, ModelPrice> prices) =>
        _prices = prices.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);

    public IReadOnlyCollection<string> Models => _prices.Keys;

    public bool TryGetPrice(string model, out ModelPrice price)
    {
        // Configuration keys cannot hold ':', so an Ollama tag such as llama3.1:8b is priced as llama3.1-8b.
        model = model.Replace(':', '-');
        if (_prices.TryGetValue(model, out price!))
        {
            return true;
        }

        foreach (var candidate in _prices.Keys.OrderByDescending(key => key.Length))
        {
            if (model.Length > candidate.Length + 1 && model.StartsWith(candidate + "-", StringComparison.OrdinalIgnoreCase)
                && char.IsDigit(model[candidate.Length + 1]))
            {
                price = _prices[candidate];
                return true;
            }
        }

        price = null!;
        return false;
    }

    public ModelPrice GetPrice(string model) =>
        TryGetPrice(model, out var price)
            ? price
            : throw new UnknownModelException(model);

    /// <summary>The built-in prices, then the configured ones (already validated: see ConfigurationValidator).</summary>
    public static PriceCatalog Load(IConfiguration configuration)
    {
        var prices = BuiltIn();
        foreach (var model in configuration.GetSection(SectionName).GetChildren())
        {
            prices.TryGetValue(model.Key, out var existing);
            prices[model.Key] = new ModelPrice(
                Read(model, nameof(ModelPrice.InputUsdPer1M)) ?? existing?.InputUsdPer1M ?? 0m,
                Read(model, nameof(ModelPrice.CachedInputUsdPer1M)) ?? existing?.CachedInputUsdPer1M
                    ?? Read(model, nameof(ModelPrice.InputUsdPer1M)) ?? 0m,
                Read(model, nameof(ModelPrice.OutputUsdPer1M)) ?? existing?.OutputUsdPer1M ?? 0m,
                Read(model, nameof(ModelPrice.AudioInputUsdPer1M)) ?? existing?.AudioInputUsdPer1M,
                Read(model, nameof(ModelPrice.AudioOutputUsdPer1M)) ?? existing?.AudioOutputUsdPer1M);
        }

        return new PriceCatalog(prices);
    }

    public static Dictionary<string, ModelPrice> BuiltIn()
    {
        using var stream = typeof(PriceCatalog).Assembly.GetManifestResourceStream("Artemis.Agents.Costs.prices.json")
            ?? throw new InvalidOperationException("the built-in price list is missing from the assembly");
        using var document = JsonDocument.Parse(stream);
        var prices = new Dictionary<string, ModelPrice>(StringComparer.OrdinalIgnoreCase);
        foreach (var model in document.RootElement.GetProperty("models").EnumerateObject())
        {
            prices[model.Name] = model.Value.Deserialize<ModelPrice>()
                ?? throw new InvalidOperationException($"the built-in price of {model.Name} is empty");
        }

        return prices;
    }

    private static decimal? Read(IConfigurationSection model, string key) =>
        model[key] is { } text ? decimal.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture) : null;
}

public sealed class UnknownModelException(string model)
    : InvalidOperationException($"The model '{model}' has no price: add it under {PriceCatalog.SectionName}:{model}. Artemis never calls an unpriced model.")
{
    public string Model { get; } = model;
}
