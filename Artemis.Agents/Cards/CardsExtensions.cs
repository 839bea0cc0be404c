using Artemis.Agents.Costs;

namespace Artemis.Agents.Cards;

public static class CardsExtensions
{
    /// <summary>
    /// The card store and the validation of new cards. Needs <c>AddPersistence</c> (Postgres) and <c>AddMessaging</c>
    /// (the event publisher and reader).
    /// </summary>
    public static IHostApplicationBuilder AddCards(this IHostApplicationBuilder builder)
    {
        // A card's budget is checked against Artemis:Budget:PerCardUsd. AddCosts binds the same section; binding it
        // here too keeps cards usable without the cost pipeline (the values are the same either way).
        builder.Services.AddOptions<BudgetOptions>().BindConfiguration(BudgetOptions.SectionName);
        builder.Services.AddSingleton<CardValidator>();
        builder.Services.AddSingleton<CardStore>();
        // The store announces every card it creates; each replica's supervisor listens.
        builder.Services.AddSingleton<CardQueueSignal>();
        return builder;
    }
}
