using Artemis.Agents.Costs;
using Microsoft.Extensions.Configuration;

namespace Artemis.Agents.Tests.Costs;

public sealed class PriceCatalogTests
{
    private static PriceCatalog Load(params (string Key, string Value)[] settings) =>
        PriceCatalog.Load(new ConfigurationBuilder()
            .AddInMemoryCollection(settings.Select(s => new KeyValuePair<string, string?>(s.Key, s.Value))).Build());

    [Fact]
    public void Built_in_catalog_prices_at_least_ten_models_including_the_realtime_ones()
    {
        var catalog = Load();
        Assert.True(catalog.Models.Count >= 10);
        foreach (var model in new[] { "gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano", "o3", "o4-mini", "gpt-realtime", "gpt-realtime-mini" })
        {
            Assert.True(catalog.TryGetPrice(model, out var price), model);
            Assert.True(price.InputUsdPer1M > 0 && price.OutputUsdPer1M > 0, model);
        }

        Assert.Equal(32m, catalog.GetPrice("gpt-realtime").AudioInputUsdPer1M);
        Assert.Equal(20m, catalog.GetPrice("gpt-realtime-mini").AudioOutputUsdPer1M);
    }

    [Fact]
    public void Unknown_model_throws_naming_the_setting_to_add()
    {
        var exception = Assert.Throws<UnknownModelException>(() => Load().GetPrice("claude-3-opus"));
        Assert.Contains("Artemis:Pricing:claude-3-opus", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Snapshot_names_use_the_longest_listed_prefix()
    {
        var catalog = Load();
        Assert.Equal(catalog.GetPrice("gpt-4o-mini"), catalog.GetPrice("gpt-4o-mini-2024-07-18"));
        Assert.Equal(catalog.GetPrice("gpt-4o"), catalog.GetPrice("gpt-4o-2024-08-06"));
        Assert.False(catalog.TryGetPrice("gpt-4o-turbo-preview", out _), "a prefix only counts before a version number");
    }

    [Fact]
    public void Configured_prices_override_and_add()
    {
        var catalog = Load(("Artemis:Pricing:gpt-4o:InputUsdPer1M", "3"), ("Artemis:Pricing:llama3.1-8b:InputUsdPer1M", "0.01"),
            ("Artemis:Pricing:llama3.1-8b:OutputUsdPer1M", "0.02"));
        Assert.Equal(3m, catalog.GetPrice("gpt-4o").InputUsdPer1M);
        Assert.Equal(10m, catalog.GetPrice("gpt-4o").OutputUsdPer1M);
        Assert.Equal(0.02m, catalog.GetPrice("llama3.1:8b").OutputUsdPer1M);
        Assert.Equal(0.01m, catalog.GetPrice("llama3.1-8b").CachedInputUsdPer1M);
    }
}
