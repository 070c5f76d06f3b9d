/**
 * Every IRC numeric reply the front door sends, by its name in
 * modern.ircdocs.horse and the IRCv3 specifications. One place, so a reader
 * looking up `464` finds what it means and where it is used.
 *
 * @module
 */

// Registration and the welcome burst.
export const RPL_WELCOME = "001";
export const RPL_YOURHOST = "002";
export const RPL_CREATED = "003";
export const RPL_MYINFO = "004";
export const RPL_ISUPPORT = "005";

// User queries and presence.
export const RPL_UMODEIS = "221";
export const RPL_AWAY = "301";
export const RPL_USERHOST = "302";
export const RPL_ISON = "303";
export const RPL_UNAWAY = "305";
export const RPL_NOWAWAY = "306";
export const RPL_WHOISUSER = "311";
export const RPL_WHOISSERVER = "312";
export const RPL_ENDOFWHO = "315";
export const RPL_WHOISIDLE = "317";
export const RPL_ENDOFWHOIS = "318";
export const RPL_WHOISCHANNELS = "319";
export const RPL_WHOISACCOUNT = "330";
export const RPL_WHOREPLY = "352";
export const RPL_MONONLINE = "730";
export const RPL_MONOFFLINE = "731";
export const RPL_MONLIST = "732";
export const RPL_ENDOFMONLIST = "733";
export const ERR_MONLISTFULL = "734";

// Channels (groups).
export const RPL_LISTSTART = "321";
export const RPL_LIST = "322";
export const RPL_LISTEND = "323";
export const RPL_CHANNELMODEIS = "324";
export const RPL_CREATIONTIME = "329";
export const RPL_NOTOPIC = "331";
export const RPL_TOPIC = "332";
export const RPL_TOPICWHOTIME = "333";
export const RPL_INVITING = "341";
export const RPL_NAMREPLY = "353";
export const RPL_ENDOFNAMES = "366";
export const RPL_ENDOFBANLIST = "368";

// Server information.
export const RPL_MOTD = "372";
export const RPL_MOTDSTART = "375";
export const RPL_ENDOFMOTD = "376";
export const ERR_NOMOTD = "422";

// Errors.
export const ERR_NOSUCHNICK = "401";
export const ERR_NOSUCHCHANNEL = "403";
export const ERR_CANNOTSENDTOCHAN = "404";
export const ERR_NORECIPIENT = "411";
export const ERR_NOTEXTTOSEND = "412";
export const ERR_INPUTTOOLONG = "417";
export const ERR_UNKNOWNCOMMAND = "421";
export const ERR_NONICKNAMEGIVEN = "431";
export const ERR_ERRONEUSNICKNAME = "432";
export const ERR_NICKNAMEINUSE = "433";
export const ERR_USERNOTINCHANNEL = "441";
export const ERR_NOTONCHANNEL = "442";
export const ERR_USERONCHANNEL = "443";
export const ERR_NOTREGISTERED = "451";
export const ERR_NEEDMOREPARAMS = "461";
export const ERR_ALREADYREGISTERED = "462";
export const ERR_PASSWDMISMATCH = "464";
export const ERR_CHANNELISFULL = "471";
export const ERR_UNKNOWNMODE = "472";
export const ERR_INVITEONLYCHAN = "473";
export const ERR_BADCHANMASK = "476";
export const ERR_CHANOPRIVSNEEDED = "482";
export const ERR_USERSDONTMATCH = "502";

// Capability negotiation (IRCv3).
export const ERR_INVALIDCAPCMD = "410";

// SASL (IRCv3 sasl-3.1 / 3.2).
export const RPL_LOGGEDIN = "900";
export const RPL_LOGGEDOUT = "901";
export const ERR_NICKLOCKED = "902";
export const RPL_SASLSUCCESS = "903";
export const ERR_SASLFAIL = "904";
export const ERR_SASLTOOLONG = "905";
export const ERR_SASLABORTED = "906";
export const ERR_SASLALREADY = "907";
export const RPL_SASLMECHS = "908";
