import app from './app';

export { RateLimiter } from './limits/rate-limiter';

export default app;
