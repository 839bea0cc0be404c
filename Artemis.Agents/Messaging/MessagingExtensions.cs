using Artemis.ServiceDefaults;

namespace Artemis.Agents.Messaging;

public static class MessagingExtensions
{
    /// <summary>
    /// The Redis connection (Aspire.StackExchange.Redis: config, health check, tracing) for events and budgets, and
    /// the event publisher and reader (events in Postgres and in the Redis stream <c>artemis:events</c>).
    /// </summary>
    public static IHostApplicationBuilder AddMessaging(this IHostApplicationBuilder builder)
    {
        builder.AddRedisClient(ResourceNames.Redis);

        builder.Services.AddOptions<MessagingOptions>()
            .BindConfiguration(MessagingOptions.SectionName)
            .ValidateDataAnnotations(); // checked at start, with every other setting, by the configuration gate
        builder.Services.AddSingleton<EventPublisher>();
        builder.Services.AddSingleton<EventSignal>();
        builder.Services.AddSingleton<EventReader>();
        builder.Services.AddSingleton<EventHub>();
        return builder;
    }
}
