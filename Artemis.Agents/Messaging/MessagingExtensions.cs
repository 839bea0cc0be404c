using Artemis.ServiceDefaults;

namespace Artemis.Agents.Messaging;

public static class MessagingExtensions
{
    /// <summary>The Redis connection (Aspire.StackExchange.Redis: config, health check, tracing) for events and budgets.</summary>
    public static IHostApplicationBuilder AddMessaging(this IHostApplicationBuilder builder)
    {
        builder.AddRedisClient(ResourceNames.Redis);
        return builder;
    }
}
